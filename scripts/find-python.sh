#!/usr/bin/env bash
# Prints the path of a Python interpreter of the version given (default 3.13), the one the Lambda runtime uses,
# so that `sam build` finds a matching python3.13 on PATH. Looks on PATH, then in pyenv, then fails with advice.
set -euo pipefail
want="${1:-3.13}"
works() { [ -n "$1" ] && "$1" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" 2>/dev/null; }
for candidate in "$(command -v "python$want" 2>/dev/null || true)" \
                 $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want"*/bin/python"$want" 2>/dev/null | sort -V -r); do
  if works "$candidate"; then echo "$candidate"; exit 0; fi
done
echo "find-python: no Python $want found (on PATH or in pyenv). Install it, e.g. 'pyenv install $want'." >&2
exit 1
