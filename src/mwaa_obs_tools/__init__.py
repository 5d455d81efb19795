"""Developer and operator tools for mwaa-obs: the local AWS emulator, the demo and (later) the CLI.

Never deployed to Lambda: the functions get only layers/common.
"""
