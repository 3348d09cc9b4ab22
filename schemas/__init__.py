"""The study schema, the ndx-drug-stress extension spec and the scripts that generate them and their docs."""
