# Paper Table 6 row 2: baseline Transformer + AA-SFE, no SSOP (34.37 M parameters).
_base_ = ['../est_r18_dfew.py']

model = dict(cls_head=dict(ssop=None))  # §3.4: SSOP branch absent (no parameters)
