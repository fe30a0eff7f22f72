"""The grammar of a source spec ("scheme:argument", or a bare path or camera index), apart from the
sources themselves so that launch files can take paths in specs relative to themselves (rtvos.config)
without loading any source."""

from __future__ import annotations

from pathlib import Path

SPEC_FORMS = ("synthetic, synthetic:WxH, folder:<dir>, video:<file>, camera:<index>, thermal:<path>, "
              "synthetic-thermal, synthetic-thermal:WxH, mcap:<file>")
FILE_SCHEMES = ("folder", "video", "thermal", "mcap")  # the spec's argument is a path


def rebase_spec(spec: str, base: str | Path) -> str:
    """`spec` with a relative file or folder path taken relative to `base` (a launch file's folder)."""
    scheme, sep, arg = spec.strip().partition(":")
    if sep and scheme.lower() in FILE_SCHEMES and arg and not Path(arg).is_absolute():
        return f"{scheme}:{Path(base) / arg}"
    if not sep and scheme and not scheme.isdigit() and scheme.lower() not in ("synthetic", "synthetic-thermal") \
            and not Path(scheme).is_absolute():
        return str(Path(base) / scheme)  # a bare path
    return spec
