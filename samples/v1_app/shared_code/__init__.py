"""Code the functions share: importable as ``shared_code``, ``__app__.shared_code`` or ``..shared_code``."""


def greeting(name: str) -> str:
    return f"Hello {name}!"
