import sys

from durable_ext.host.cli import main

sys.exit(main())
