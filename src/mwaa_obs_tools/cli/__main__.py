"""`python -m mwaa_obs_tools.cli`: the `mwaa-obs` command, run from a checkout (the tests start it this way)."""

import sys

from mwaa_obs_tools.cli import main

sys.exit(main())
