"""Sub-commands of the ``lola-zoo`` CLI, one module each (discovered by :mod:`lola_zoo.cli`)."""
