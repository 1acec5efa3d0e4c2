"""PyInstaller's entry script: the bundle's executable is the `desktop-sms` command."""

import sys

from desktop_sms.cli import main

if __name__ == "__main__":
    sys.exit(main())
