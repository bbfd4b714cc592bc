"""The build's one piece pyproject.toml cannot say: the optional C accelerator.

`spacesync_gui.engine._fastcopy` (csrc/fastcopy.c) copies small files without the
interpreter; transfer.stage_file uses it when it is there. It is optional: where it cannot
be built (no C compiler, or Windows, whose system calls it does not use) the install goes
on and the Python path does all of it.
"""

import sys

from setuptools import Extension, setup

ext_modules = []
if sys.platform != "win32":
    ext_modules.append(
        Extension(
            "spacesync_gui.engine._fastcopy",
            sources=["csrc/fastcopy.c"],
            include_dirs=["csrc/xxhash"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    )

setup(ext_modules=ext_modules)
