"""``python -m levercast.experiments`` runs the levercast CLI."""

import sys

from levercast.experiments.cli.main import run

sys.exit(run())
