"""The ``eo-tfds`` command line (also ``python -m conversion``), thin over the library."""
