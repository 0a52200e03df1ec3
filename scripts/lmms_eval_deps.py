"""What installing lmms-eval's requirements beside our stack may and may not do (scripts/setup.sh).

lmms-eval is installed with --no-deps; this reads its requirements from the installed metadata and writes

    DIR/requirements.txt   those not installed yet, less the ones that would change our stack, plus filelock<4
    DIR/constraints.txt    every installed package pinned at its version (filelock: <4 and what others need)

so pip fails rather than change a package we have. It prints each requirement left out and why.
`--check VERSION` exits 0 when that lmms-eval and filelock<4 are in place (setup's quick re-run test).
"""

from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

# Its evaluator imports filelock._api, gone in filelock 4.
FILELOCK = SpecifierSet("<4")
# Not installed here, yet installing them would change what we have.
LEAVE_OUT = {
    "latex2sympy2": "pins antlr4-python3-runtime==4.7.2; hydra-core and omegaconf need 4.9",
}


def installed() -> dict[str, str]:
    return {
        canonicalize_name(d.metadata["Name"]): d.version for d in md.distributions() if d.metadata["Name"]
    }


def requirements(dist: str) -> list[Requirement]:
    """A distribution's own requirements (no extras) that apply on this Python."""
    reqs = [Requirement(text) for text in md.requires(dist) or []]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


def filelock_spec(have: dict[str, str]) -> SpecifierSet:
    """<4, narrowed by what every installed package asks of filelock."""
    spec = FILELOCK
    for dist in have:
        if dist == "filelock":
            continue
        for req in requirements(dist):
            if canonicalize_name(req.name) == "filelock":
                spec &= req.specifier
    return spec


def plan(have: dict[str, str]) -> tuple[list[str], list[str]]:
    """(requirements to install, why each left-out one is left out)."""
    wanted, left_out = [], []
    for req in requirements("lmms-eval"):
        name = canonicalize_name(req.name)
        if name in have:
            if not req.specifier.contains(Version(have[name]), prereleases=True):
                left_out.append(f"{req} (we have {have[name]})")
        elif name in LEAVE_OUT:
            left_out.append(f"{req} ({LEAVE_OUT[name]})")
        elif str(req) not in wanted:
            wanted.append(str(req))
    return [*wanted, f"filelock{filelock_spec(have)}"], left_out


def check(version: str) -> int:
    have = installed()
    return 0 if have.get("lmms-eval") == version and FILELOCK.contains(have.get("filelock", "0")) else 1


def main() -> int:
    if sys.argv[1] == "--check":
        return check(sys.argv[2])
    out = Path(sys.argv[1])
    have = installed()
    wanted, left_out = plan(have)
    pins = [f"{name}=={version}" for name, version in sorted(have.items()) if name != "filelock"]
    (out / "requirements.txt").write_text("\n".join(wanted) + "\n")
    (out / "constraints.txt").write_text("\n".join([*pins, f"filelock{filelock_spec(have)}"]) + "\n")
    print("; ".join(left_out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
