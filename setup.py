# Copyright 2026 The jetson_infer_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""ament_python build description: colcon on a ROS 2 install, pip in the dev venv."""

from glob import glob
import os

from setuptools import find_packages
from setuptools import setup

package_name = 'jetson_infer_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'tools', 'tools.*']),
    package_data={package_name: ['labels/*.txt', 'assets/requirements/*.txt']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        (os.path.join('share', package_name, 'launch'), glob('launch/*.launch.py')),
        (os.path.join('share', package_name, 'config'),
         glob('config/*.yaml') + glob('config/*.xml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='jetson_infer_ros developers',
    maintainer_email='dev@jetson-infer-ros.invalid',
    description='Camera topics to vision_msgs with TensorRT / ONNX Runtime, as a lifecycle node.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'infer_node = jetson_infer_ros.node:main',
            'jetson-infer = jetson_infer_ros.cli.main:main',
        ],
    },
)
