// Store.cluster_members: member face ids of the clusters in $ids, one record per cluster with a
// list (one record per member cost the driver more to receive than the ids themselves).
UNWIND $ids AS id
MATCH (:Cluster {id: id})<-[:IN_CLUSTER]-(f:Face)
WITH id, f.id AS face_id
ORDER BY id, face_id
RETURN id AS cluster_id, collect(face_id) AS face_ids
