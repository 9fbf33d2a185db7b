"""File formats at the edge: reading and writing what image files carry about themselves.

Like ``storage`` and ``chain``, an I/O layer over the pure core: it imports
``ledger.core`` and ``ledger.errors`` only, and the heavy libraries it wraps (pyexiv2,
c2pa-python, Pillow, OpenCV) are imported inside its modules, which the command line
loads only when a command needs them.
"""
