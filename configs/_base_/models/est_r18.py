# EST with a ResNet-18 backbone (paper §3, §4.2). Input: 35 frames (7 snippets × 5) per clip.
# neck.num_snippets / frames_per_snippet and cls_head.num_snippets are set from `snippet`
# (../snippet.py) by the runnable config that combines this file with a dataset base.
model = dict(
    type='ESTRecognizer',
    backbone=dict(
        type='ResNet',
        depth=18,  # paper §4.2: ResNet-18 per-frame feature extractor
        pretrained=None,  # paper: face-pretrained (MS-Celeb / FER+); set a local path to use one
        torchvision_pretrain=True,  # a local `pretrained` file is read in torchvision's layout
        out_indices=(3, ),
        norm_eval=False),
    neck=dict(
        type='AASFE',  # §3.2 attention-augmented snippet feature extractor
        in_channels=512,
        embed_dims=512,
        num_heads=4,
        dropout=0.1,
        mode='attention'),
    cls_head=dict(
        type='ESTHead',  # §3.1 Transformer + §3.3 SSOP
        num_classes=7,
        in_channels=512,  # d = 512
        num_heads=4,  # §3.1: 4 heads
        num_encoder_layers=3,  # §3.1: 3 encoder layers
        num_decoder_layers=3,  # §3.1: 3 decoder layers
        ffn_channels=2048,
        dropout=0.1,
        mlp_channels=(128, 64),  # §3.1: 3-layer perception classifier
        mlp_dropout=0.4,  # official: one Dropout(0.4) before the last Linear
        encoder_norm=True,  # official (DETR): a final LayerNorm after the encoder
        ssop=dict(  # §3.3 shuffled snippet order prediction; None: no SSOP branch
            type='SSOPBranch',
            hidden=(2048, 512),  # official per_branch: 3584 → 2048 → 512 → 10, BN + ReLU
            num_permutations=10,  # §3.3: 10 sampled permutation orders
            # official: datasets/permutation_10.npy of github.com/DreamMr/EST (row i = label i)
            permutations=[[0, 4, 3, 2, 6, 1, 5], [5, 3, 1, 6, 4, 0, 2], [0, 4, 3, 5, 2, 6, 1],
                          [5, 4, 3, 2, 1, 0, 6], [5, 1, 2, 4, 0, 6, 3], [0, 5, 2, 6, 4, 1, 3],
                          [3, 1, 5, 0, 6, 2, 4], [2, 3, 0, 4, 1, 6, 5], [5, 0, 4, 1, 3, 2, 6],
                          [0, 3, 2, 6, 4, 5, 1]],
            detach=True,  # official: SSOP sees the snippet features without their gradient
            sync_bn=True),  # BatchNorm statistics over all processes (one clip per GPU trains)
        # §3.4 Eq. 7: L = L_cls + (1/n) L_S, n = 7 (official: 0.1428)
        loss_ssop=dict(type='CrossEntropyLoss', loss_weight=0.1428),
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[0., 0., 0.],  # official: frames only scaled to [0, 1]
        std=[255., 255., 255.],
        format_shape='NCHW'))
