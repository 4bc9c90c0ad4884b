"""An activity using shared code through a relative import, as the Python worker allows."""

from ..shared_code import greeting


def main(name: str) -> str:
    return greeting(name)
