"""TensorFlow 1 graph code running on flowir: only the import differs.

Builds a tiny linear layer with placeholders, variables and name scopes, then runs parts of
it in a session with feed_dict. Run it with ``python3 examples/tf1_basics.py``.
"""

import numpy as np

import flowir as tf

with tf.name_scope("inputs"):
    x = tf.placeholder(tf.float32, [None, 3], name="x")

with tf.name_scope("layer"):
    w = tf.Variable([[0.5], [-1.0], [2.0]], name="w")
    b = tf.Variable([0.25], name="b")
    logits = tf.matmul(x, w) + b
    y = tf.nn.relu(logits, name="y")

total = tf.reduce_sum(y, name="total")
steps = tf.Variable(0, name="steps", trainable=False)
count_step = steps.assign_add(1)
shrink = w.assign(w * 0.5)
init = tf.global_variables_initializer()

print("graph:")
for t in (x, w, y, total):
    print(" ", t)

batch = np.array([[1.0, 2.0, 3.0], [4.0, 0.0, -1.0], [0.0, 1.0, 0.0]], np.float32)

with tf.Session() as sess:
    print("uninitialized:", sess.run(tf.report_uninitialized_variables()))
    sess.run(init)
    out, s = sess.run([y, total], feed_dict={x: batch})
    print("y =", out.ravel(), " total =", s)
    for _ in range(3):
        sess.run(count_step)
    sess.run(shrink)
    after = sess.run({"w": w, "steps": steps, "total": total}, feed_dict={x: batch})
    print("after 3 steps and one shrink:", {k: np.ravel(v).tolist() for k, v in after.items()})

expected = np.maximum(batch @ np.array([[0.5], [-1.0], [2.0]], np.float32) + 0.25, 0.0)
assert np.allclose(out, expected) and np.isclose(s, expected.sum())
assert after["steps"] == 3 and np.allclose(after["w"], [[0.25], [-0.5], [1.0]])
print("ok: flowir ran the TF1 graph on the", sess.backend.name, "backend")
