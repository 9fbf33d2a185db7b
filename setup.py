"""Builds the Keccak accelerator of ledger.core.merkle; all metadata is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ledger.core._keccak",
            sources=["ledger/core/_keccak.c"],
            extra_compile_args=["-O2", "-std=gnu11"],
        )
    ]
)
