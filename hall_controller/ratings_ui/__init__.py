"""好差评 pages: the public results page and the manager's case and complaint pages."""
