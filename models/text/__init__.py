"""The text reader: PP-OCR detection + recognition (ONNX, from the rapidocr wheel) on ONNX Runtime."""
