"""Run `orchestrate` from a checkout: python tools/orchestrate.py --issue 99"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentos.cli.orchestrate import main  # noqa: E402

if __name__ == "__main__":
    main()
