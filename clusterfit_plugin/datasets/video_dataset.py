# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``VideoDataset``: videos from an annotation list or class folders."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset
from mmpretrain.registry import DATASETS

from .transforms import build_video_pipeline

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v')


@DATASETS.register_module()
class VideoDataset(BaseDataset):
    """Videos listed in an annotation file or laid out one folder per class.

    With ``ann_file``, each line is ``relative/path.mp4 [label]`` (the
    Kinetics-style list of mmaction2's ``VideoDataset``, fields split by
    ``delimiter``; the label may be omitted, as for unlabelled data to
    cluster). Without it, every sub-folder of the data prefix is a class
    (sorted names) holding its videos. Each sample's info has
    ``video_path`` and, when known, ``gt_label``.

    The pipeline is a clip pipeline (:func:`build_video_pipeline`):
    mmaction2 1.x's transform names run as mmaction2 runs them, and an
    image transform is refused before any data is read.

    Args:
        ann_file (str): annotation list; '' for the folder layout.
        data_root (str): root joined to ``ann_file`` and ``data_prefix``.
        data_prefix (str | dict): folder of the videos, or
            ``dict(video=...)`` (mmaction2's form) or
            ``dict(video_path=...)``.
        extensions (Sequence[str]): video files of the folder layout.
        classes (Sequence[str], optional): class names for ``metainfo``.
        pipeline (Sequence): the transforms.
        test_mode (bool): test mode (deterministic sampling transforms read
            their own ``test_mode`` flag).
        delimiter (str, optional): the list's field separator (mmaction2's
            ``' '``; ``','`` for paths with spaces). Defaults to None: any
            whitespace.
        multi_class, num_classes, start_index, modality: mmaction2's
            settings, accepted at the values this dataset implements (one
            label per video, frames counted from 0, RGB).
        **kwargs: the rest of mmengine's ``BaseDataset``.
    """

    clip_pipeline = True

    def __init__(self,
                 ann_file: str = '',
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 extensions: Sequence[str] = VIDEO_EXTENSIONS,
                 classes: Optional[Sequence[str]] = None,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 delimiter: Optional[str] = None,
                 multi_class: bool = False,
                 num_classes: Optional[int] = None,
                 start_index: int = 0,
                 modality: str = 'RGB',
                 **kwargs):
        data_prefix = self._video_prefix(data_prefix)
        for name, value, want in (('multi_class', multi_class,
                                   False), ('start_index', start_index, 0),
                                  ('modality', modality, 'RGB')):
            if value != want:
                raise ValueError(
                    f'VideoDataset {name}={value!r} is not supported (one '
                    'label per video, frames counted from 0 as decoders '
                    f'count them, RGB); use {name}={want!r}.')
        del num_classes  # mmaction2's, used with multi_class only
        if delimiter == '':
            raise ValueError("VideoDataset delimiter='' splits nothing; "
                             "use ' ' or ',', or None for any whitespace.")
        self.delimiter = delimiter
        self.extensions = tuple(e.lower() for e in extensions)
        metainfo = kwargs.pop('metainfo', None) or {}
        if classes is not None:
            metainfo = dict(metainfo, classes=tuple(classes))
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=build_video_pipeline(pipeline).transforms,
            test_mode=test_mode,
            metainfo=metainfo,
            **kwargs)

    @staticmethod
    def _video_prefix(data_prefix: Union[str, dict]) -> dict:
        """``dict(video_path=folder)`` from the accepted forms."""
        if isinstance(data_prefix, str):
            return dict(video_path=data_prefix)
        if not isinstance(data_prefix, dict) or len(data_prefix) != 1 or (next(
                iter(data_prefix)) not in ('video', 'video_path')):
            raise ValueError(
                f'VideoDataset data_prefix={data_prefix!r}: give the videos\' '
                "folder as a string, dict(video=...) (mmaction2's) or "
                'dict(video_path=...).')
        return dict(video_path=next(iter(data_prefix.values())))

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
                fields = line.strip().split(self.delimiter)
                if fields == [''] or not fields:
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
