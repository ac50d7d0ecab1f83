// Store.add_faces: create faces that are not stored yet (an existing face is left unchanged).
UNWIND $rows AS row
MERGE (f:Face {id: row.id})
ON CREATE SET f += row.props
