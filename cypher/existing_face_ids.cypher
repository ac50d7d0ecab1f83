// Store.existing_face_ids: the stored subset of $ids.
UNWIND $ids AS id
MATCH (f:Face {id: id})
RETURN f.id AS id
