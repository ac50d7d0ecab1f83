// Store.faces_by_image: face ids per image path.
UNWIND $images AS image
MATCH (f:Face {image: image})
RETURN image, f.id AS id
ORDER BY image, id
