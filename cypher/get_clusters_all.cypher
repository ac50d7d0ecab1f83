// Store.get_clusters(None): every cluster.
MATCH (c:Cluster)
RETURN c {.id, .size, .locked, .name, .created_at, .updated_at} AS cluster
