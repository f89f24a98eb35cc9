"""Hardware backends, chosen per node by nodehm.mgt."""
