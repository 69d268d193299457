"""``wangge`` command groups of the dispatch package: each module here that defines
``commands`` (a list of click commands or groups) is registered by ``dispatch.cli``."""
