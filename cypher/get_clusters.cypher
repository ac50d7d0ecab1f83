// Store.get_clusters: the clusters in $ids.
UNWIND $ids AS id
MATCH (c:Cluster {id: id})
RETURN c {.id, .size, .locked, .name, .created_at, .updated_at} AS cluster
