"""Run `orchestrate` from a checkout: python tools/orchestrate.py --issue 99"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

try:
    from agentos.cli.orchestrate import main
except ModuleNotFoundError as exc:
    from agentos.errors import ExitCode  # the standard library only: importable without the dependencies

    venv = ROOT / ".venv" / "bin" / "python"
    print(f"error: {exc.name} is not installed for {sys.executable}\n"
          f"  hint: run `make demo` once (it creates .venv), then: {venv} tools/orchestrate.py ...",
          file=sys.stderr)
    raise SystemExit(ExitCode.USAGE)

if __name__ == "__main__":
    main()
