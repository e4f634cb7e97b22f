from .video_resnet import VideoResNetBackbone

__all__ = ['VideoResNetBackbone']
