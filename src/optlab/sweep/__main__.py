"""``python -m optlab.sweep --study NAME --storage URL``: one sweep worker (:mod:`optlab.sweep.worker`)."""

import sys

from optlab.sweep.worker import main

sys.exit(main())
