"""Prediction: authenticate a model token, preprocess images, run the model's ONNX session."""
