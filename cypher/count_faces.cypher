// Store.count_faces
MATCH (f:Face)
RETURN count(f) AS n
