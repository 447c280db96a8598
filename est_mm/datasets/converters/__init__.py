"""List-file writers for releases whose labels are not in a list file of their own (the logic of
``tools/data/convert_*.py``)."""
from .bu4dfe import write_bu4dfe_list
from .mmi import write_mmi_list

__all__ = ['write_bu4dfe_list', 'write_mmi_list']
