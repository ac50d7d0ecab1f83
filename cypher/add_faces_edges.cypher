// Store.add_faces: SIMILAR edges, once per pair, from a to b with a < b (an existing pair is left unchanged).
UNWIND $rows AS row
MATCH (a:Face {id: row.a})
MATCH (b:Face {id: row.b})
MERGE (a)-[r:SIMILAR]->(b)
ON CREATE SET r.distance = row.distance, r.weight = row.weight
