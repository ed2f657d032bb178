"""Face detection (issue 19): MTCNN with the weights facenet-pytorch 2.6.0 ships, scripted to
TorchScript by `models.build.faces`. `nets` holds the three networks, `mtcnn` the cascade around
them (a port of facenet-pytorch's `detect_face`, MIT; on astronaut, grace_hopper, camera, cat,
coffee, rocket and motorcycle its boxes equal the original code's to 1e-4 px), `artifact` the
served `FaceDetector`.

How the frame spec was chosen. 1280x720 frames (astronaut, grace_hopper or the cameraman pasted
over rocket, coffee, cat or motorcycle, then area-scaled to max_side as the decode does), one CPU
thread, frames per CPU-second (CPU time: other processes shared the two cores):

    max_side  decoded   batch 1  batch 4  smallest face found, width in the 720p frame
    480       480x270   30.8     33.1     32 px (astronaut), 40 px (grace_hopper)
    640       640x360   20.8     21.5     24 px, 20 px
    960       960x540   10.5      9.8     16 px, 16 px (the smallest tried)
    (none)    1280x720   5.4

Face widths tried: 16, 20, 24, 28, 32, 40, 48, 64, 96 px; every face at or above those sizes was
found, at 0.99-1.00 at 640, and no false face appeared on any background. No photo of a cyclist
ships in a package here; the shrunken faces stand in for the small faces of a street scene.

Chosen: max_side 640 (faces from ~24 px wide in a 720p frame at 4x full 720p's frames/s; 960
would add the 16-20 px faces at half the speed), fps 1.0, min_face 20 px of the decoded frame
(MTCNN's default; P-Net's box regression still reaches faces ~12 px wide), batch 4 frames
(batching saves little on CPU: 3 % at 640). Reported from probability 0.95: true faces scored
>= 0.99 at 640 (0.957 for a 16-px face at 960); the one false face seen, on a motorcycle wheel in
skimage's stereo_motorcycle at its full 741x500, scored 0.929 (nothing at 640).
"""
