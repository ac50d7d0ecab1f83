// Store.update_cluster: set locked / name (checked by the caller) and updated_at.
MATCH (c:Cluster {id: $id})
SET c += $fields, c.updated_at = $now
RETURN c.id AS id
