// Store.apply_clustering: remove the current IN_CLUSTER of the faces in $ids; returns the clusters they left.
UNWIND $ids AS id
MATCH (:Face {id: id})-[m:IN_CLUSTER]->(c:Cluster)
DELETE m
RETURN DISTINCT c.id AS cluster_id
