// Store.cluster_page: one page of clusters, largest first, ties by id (the people list).
MATCH (c:Cluster)
WITH c ORDER BY c.size DESC, c.id
SKIP $offset LIMIT $limit
RETURN c {.id, .size, .locked, .name, .created_at, .updated_at} AS cluster
