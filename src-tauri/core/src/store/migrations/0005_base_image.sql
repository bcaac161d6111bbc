-- Version 5: the engine id of the image a container's filesystem started from, so that an
-- image update can tell whether the image changed even when the container runs a snapshot's
-- image (after a restore). NULL for rows from before; an update then compares digests.

ALTER TABLE containers ADD COLUMN base_image_id TEXT;
ALTER TABLE snapshots ADD COLUMN base_image_id TEXT;
