"""`python -m desktop_sms`: the same as the `desktop-sms` command."""

import sys

from desktop_sms.cli import main

if __name__ == "__main__":
    sys.exit(main())
