"""``python -m experiments`` runs the levercast CLI."""

import sys

from experiments.cli import main

sys.exit(main())
