# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``VideoDataset``: videos from an annotation list or class folders."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset
from mmpretrain.registry import DATASETS

from .transforms import build_pipeline

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v')


@DATASETS.register_module()
class VideoDataset(BaseDataset):
    """Videos listed in an annotation file or laid out one folder per class.

    With ``ann_file``, each line is ``relative/path.mp4 [label]`` (the
    Kinetics-style list of mmaction2; the label may be omitted, as for
    unlabelled data to cluster). Without it, every sub-folder of the data
    prefix is a class (sorted names) holding its videos. Each sample's info
    has ``video_path`` and, when known, ``gt_label``.

    Args:
        ann_file (str): annotation list; '' for the folder layout.
        data_root (str): root joined to ``ann_file`` and ``data_prefix``.
        data_prefix (str | dict): folder of the videos, or
            ``dict(video_path=...)``.
        extensions (Sequence[str]): video files of the folder layout.
        classes (Sequence[str], optional): class names for ``metainfo``.
        pipeline (Sequence): the transforms.
        test_mode (bool): test mode (deterministic sampling transforms read
            their own ``test_mode`` flag).
        **kwargs: the rest of mmengine's ``BaseDataset``.
    """

    def __init__(self,
                 ann_file: str = '',
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 extensions: Sequence[str] = VIDEO_EXTENSIONS,
                 classes: Optional[Sequence[str]] = None,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 **kwargs):
        if isinstance(data_prefix, str):
            data_prefix = dict(video_path=data_prefix)
        self.extensions = tuple(e.lower() for e in extensions)
        metainfo = kwargs.pop('metainfo', None) or {}
        if classes is not None:
            metainfo = dict(metainfo, classes=tuple(classes))
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=build_pipeline(pipeline).transforms,
            test_mode=test_mode,
            metainfo=metainfo,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Parse the annotation list or scan the class folders.

        Returns:
            list[dict]: one info per video.
        """
        prefix = self.data_prefix.get('video_path', '')
        if self.ann_file:
            return self._from_list(prefix)
        return self._from_folders(prefix)

    def _from_list(self, prefix: str) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'VideoDataset ann_file {self.ann_file!r} does not exist.')
        data_list = []
        with open(self.ann_file, encoding='utf-8') as f:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                bad_label = (
                    len(fields) == 2 and not fields[1].lstrip('-').isdigit())
                if len(fields) > 2 or bad_label:
                    raise ValueError(
                        f'{self.ann_file}:{number}: expected '
                        f'"relative/path.mp4 [label]", got {line.strip()!r}.')
                info = dict(video_path=osp.join(prefix, fields[0]))
                if len(fields) == 2:
                    info['gt_label'] = int(fields[1])
                data_list.append(info)
        return data_list

    def _from_folders(self, prefix: str) -> List[dict]:
        if not osp.isdir(prefix):
            raise FileNotFoundError(
                f'VideoDataset: no ann_file and {prefix!r} is not a folder '
                'of class sub-folders.')
        classes = sorted(
            d for d in os.listdir(prefix) if osp.isdir(osp.join(prefix, d)))
        data_list = []
        for label, name in enumerate(classes):
            for file in sorted(os.listdir(osp.join(prefix, name))):
                if file.lower().endswith(self.extensions):
                    data_list.append(
                        dict(
                            video_path=osp.join(prefix, name, file),
                            gt_label=label))
        if not data_list:
            raise FileNotFoundError(
                f'VideoDataset found no {self.extensions} videos in class '
                f'folders under {prefix!r}.')
        self._metainfo.setdefault('classes', tuple(classes))
        return data_list
