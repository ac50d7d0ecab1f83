// Store.apply_clustering: upsert clusters (locked, name, created_at as given).
UNWIND $rows AS row
MERGE (c:Cluster {id: row.id})
ON CREATE SET c.size = 0
SET c.locked = row.locked, c.name = row.name, c.created_at = row.created_at, c.updated_at = $now
