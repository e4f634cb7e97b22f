from .video import VideoClsDataPreprocessor

__all__ = ['VideoClsDataPreprocessor']
