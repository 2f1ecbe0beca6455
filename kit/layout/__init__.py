"""Where the kit's things are and what they are called, each declared once: the layout of the
kit's buckets (buckets.py) and the names of the Kubernetes objects it creates (kube_names.py).
Leaves: plain functions of names and URIs, importing nothing of the kit's but its errors, so
the render, the cluster target, the trainer and the stacks (IAM grants, workload identity) all
read the same answers."""
