"""Feature config sections: importing a feature's config module registers its `[section]` parser."""
