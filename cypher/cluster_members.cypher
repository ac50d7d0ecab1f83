// Store.cluster_members: member face ids of the clusters in $ids.
UNWIND $ids AS id
MATCH (:Cluster {id: id})<-[:IN_CLUSTER]-(f:Face)
RETURN id AS cluster_id, f.id AS face_id
ORDER BY cluster_id, face_id
