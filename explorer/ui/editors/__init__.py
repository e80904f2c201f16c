"""Per-family Explore editors. Each ``<family>.py`` defines ``EDITOR`` (see :mod:`.base` for the API); the
registry (:mod:`explorer.families`) names the module, so adding a family adds no code here."""
