"""The region service (县/市 政务服务中心 and its 分中心, 便民服务中心): many halls' ledgers in PostgreSQL."""
